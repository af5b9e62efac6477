/* Remote ID test vectors made by opendroneid-core-c's own encoder (not ours), with the values of its
 * test/test_inout.c. Build against libopendroneid/{opendroneid.c,wifi.c}:
 *   cc -I$ODID -o vectors opendroneid_vectors.c $ODID/opendroneid.c $ODID/wifi.c -lm && ./vectors
 * and paste the output into opendroneid.json. Beacon/NAN timestamps are zeroed so the output is stable. */
#include <stdio.h>
#include <string.h>
#include "opendroneid.h"

static void hex(const char *name, const void *p, int n, int last)
{
    const unsigned char *b = p;
    printf("  \"%s\": \"", name);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\"%s\n", last ? "" : ",");
}

int main(void)
{
    ODID_UAS_Data uas;
    odid_initUasData(&uas);
    ODID_BasicID_data *basic = &uas.BasicID[0];
    basic->IDType = ODID_IDTYPE_CAA_REGISTRATION_ID;
    basic->UAType = ODID_UATYPE_HELICOPTER_OR_MULTIROTOR;
    strncpy(basic->UASID, "12345678901234567890", sizeof(basic->UASID));
    uas.BasicIDValid[0] = 1;

    ODID_Location_data *loc = &uas.Location;
    loc->Status = ODID_STATUS_AIRBORNE;
    loc->Direction = 215.7f;
    loc->SpeedHorizontal = 5.4f;
    loc->SpeedVertical = 5.25f;
    loc->Latitude = 45.539309;
    loc->Longitude = -122.966389;
    loc->AltitudeBaro = 100;
    loc->AltitudeGeo = 110;
    loc->HeightType = ODID_HEIGHT_REF_OVER_GROUND;
    loc->Height = 80;
    loc->HorizAccuracy = createEnumHorizontalAccuracy(2.5f);
    loc->VertAccuracy = createEnumVerticalAccuracy(0.5f);
    loc->BaroAccuracy = createEnumVerticalAccuracy(1.5f);
    loc->SpeedAccuracy = createEnumSpeedAccuracy(0.5f);
    loc->TSAccuracy = createEnumTimestampAccuracy(0.2f);
    loc->TimeStamp = 360.52f;
    uas.LocationValid = 1;

    ODID_Auth_data *a0 = &uas.Auth[0], *a1 = &uas.Auth[1];
    a0->AuthType = ODID_AUTH_UAS_ID_SIGNATURE;
    a0->DataPage = 0;
    a0->LastPageIndex = 1;
    a0->Length = 40;
    a0->Timestamp = 28000000;
    memcpy(a0->AuthData, "12345678901234567", 17);
    a1->AuthType = ODID_AUTH_UAS_ID_SIGNATURE;
    a1->DataPage = 1;
    memcpy(a1->AuthData, "12345678901234567890123", 23);
    uas.AuthValid[0] = uas.AuthValid[1] = 1;

    uas.SelfID.DescType = ODID_DESC_TYPE_TEXT;
    strncpy(uas.SelfID.Desc, "DronesRUS: Real Estate", sizeof(uas.SelfID.Desc));
    uas.SelfIDValid = 1;

    ODID_System_data *sys = &uas.System;
    sys->OperatorLocationType = ODID_OPERATOR_LOCATION_TYPE_TAKEOFF;
    sys->ClassificationType = ODID_CLASSIFICATION_TYPE_EU;
    sys->OperatorLatitude = loc->Latitude + 0.00001;
    sys->OperatorLongitude = loc->Longitude + 0.00001;
    sys->AreaCount = 35;
    sys->AreaRadius = 75;
    sys->AreaCeiling = 176.9f;
    sys->AreaFloor = 41.7f;
    sys->CategoryEU = ODID_CATEGORY_EU_SPECIFIC;
    sys->ClassEU = ODID_CLASS_EU_CLASS_3;
    sys->OperatorAltitudeGeo = 20.5f;
    sys->Timestamp = 28000000;
    uas.SystemValid = 1;

    uas.OperatorID.OperatorIdType = ODID_OPERATOR_ID;
    strncpy(uas.OperatorID.OperatorId, "98765432100123456789", sizeof(uas.OperatorID.OperatorId));
    uas.OperatorIDValid = 1;

    ODID_Message_encoded m[7];
    encodeBasicIDMessage(&m[0].basicId, basic);
    encodeLocationMessage(&m[1].location, loc);
    encodeAuthMessage(&m[2].auth, a0);
    encodeAuthMessage(&m[3].auth, a1);
    encodeSelfIDMessage(&m[4].selfId, &uas.SelfID);
    encodeSystemMessage(&m[5].system, sys);
    encodeOperatorIDMessage(&m[6].operatorId, &uas.OperatorID);

    /* Unknown values: an initialised Location (direction, speeds, altitudes at their markers). */
    ODID_Location_data unknown;
    odid_initLocationData(&unknown);
    unknown.TimeStamp = INV_TIMESTAMP;
    ODID_Message_encoded unknown_enc;
    encodeLocationMessage(&unknown_enc.location, &unknown);

    /* Speed above 63.75 m/s uses the multiplier; vertical speed negative; direction west. */
    ODID_Location_data fast = *loc;
    fast.SpeedHorizontal = 100.5f;
    fast.SpeedVertical = -12.5f;
    fast.Direction = 359.0f;
    ODID_Message_encoded fast_enc;
    encodeLocationMessage(&fast_enc.location, &fast);

    unsigned char pack[256];
    int pack_len = odid_message_build_pack(&uas, pack, sizeof(pack));

    char mac[6] = {0x12, 0x34, 0x56, 0x21, 0x43, 0x65};
    unsigned char beacon[512], nan[512];
    int beacon_len = odid_wifi_build_message_pack_beacon_frame(&uas, mac, "RID-12345678901234567890", 24,
                                                               100, 0x55, beacon, sizeof(beacon));
    memset(beacon + 24, 0, 8);
    int nan_len = odid_wifi_build_message_pack_nan_action_frame(&uas, mac, 0x2a, nan, sizeof(nan));

    printf("{\n");
    hex("basic_id", &m[0], 25, 0);
    hex("location", &m[1], 25, 0);
    hex("auth_page_0", &m[2], 25, 0);
    hex("auth_page_1", &m[3], 25, 0);
    hex("self_id", &m[4], 25, 0);
    hex("system", &m[5], 25, 0);
    hex("operator_id", &m[6], 25, 0);
    hex("location_unknown", &unknown_enc, 25, 0);
    hex("location_fast_west_descending", &fast_enc, 25, 0);
    hex("message_pack", pack, pack_len, 0);
    hex("wifi_beacon", beacon, beacon_len, 0);
    hex("wifi_nan_action", nan, nan_len, 1);
    printf("}\n");
    return 0;
}
