/* Remote ID test vectors made by opendroneid-core-c's own encoder (not ours), with the values of its
 * test/test_inout.c. Build against libopendroneid/{opendroneid.c,wifi.c}:
 *   cc -I$ODID -o vectors opendroneid_vectors.c $ODID/opendroneid.c $ODID/wifi.c -lm
 *   ./vectors > opendroneid.json && ./vectors edges > opendroneid_edges.json
 * Beacon/NAN timestamps are zeroed so the output is stable. `edges`: the encoder's edge cases
 * (rounding and truncation of every scaled field, the limits, the "unknown" markers, every enum's
 * ends, binary IDs, full-length texts, authentication pages), each with what the library's own
 * decoder (decodeOpenDroneID) makes of it, in its units and with its markers (361 degrees, 255 m/s,
 * 63 m/s, -1000 m, 0xFFFF tenths); generated with opendroneid-core-c at beb5639. */
#include <stdio.h>
#include <string.h>
#include "opendroneid.h"

static int edges(void);
static void reserved_and_raw(void);
static void packs(void);

static void hex(const char *name, const void *p, int n, int last)
{
    const unsigned char *b = p;
    printf("  \"%s\": \"", name);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\"%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "edges") == 0)
        return edges();
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

/* --- edges: one JSON object per case, {"name", "hex", "c": the C decoder's fields} ------------- */

static int first_case = 1;

static void begin(const char *name, const void *p, int n)
{
    const unsigned char *b = p;
    printf("%s  {\"name\": \"%s\", \"hex\": \"", first_case ? "" : ",\n", name);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\", \"c\": {");
    first_case = 0;
}

static void hexfield(const char *key, const void *p, int n)
{
    const unsigned char *b = p;
    printf("\"%s\": \"", key);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\"");
}

static ODID_UAS_Data decoded(const void *msg)
{
    ODID_UAS_Data out;
    odid_initUasData(&out);
    if (decodeOpenDroneID(&out, msg) == ODID_MESSAGETYPE_INVALID)
        fprintf(stderr, "opendroneid could not decode a vector\n");
    return out;
}

/* what the library's decoder read from a Location message, in its units and markers */
static void location_fields(const ODID_Location_data *d)
{
    printf("\"status\": %d, \"height_type\": %d, \"direction\": %.9g, \"speed_horizontal\": %.9g, "
           "\"speed_vertical\": %.9g, \"latitude\": %.17g, \"longitude\": %.17g, "
           "\"altitude_baro\": %.9g, \"altitude_geo\": %.9g, \"height\": %.9g, "
           "\"horizontal_accuracy\": %d, \"vertical_accuracy\": %d, \"baro_accuracy\": %d, "
           "\"speed_accuracy\": %d, \"timestamp_accuracy\": %d, \"timestamp\": %.9g}}",
           d->Status, d->HeightType, d->Direction, d->SpeedHorizontal, d->SpeedVertical,
           d->Latitude, d->Longitude, d->AltitudeBaro, d->AltitudeGeo, d->Height,
           d->HorizAccuracy, d->VertAccuracy, d->BaroAccuracy, d->SpeedAccuracy, d->TSAccuracy,
           d->TimeStamp);
}

static void location(const char *name, ODID_Location_data in)
{
    ODID_Location_encoded enc;
    if (encodeLocationMessage(&enc, &in) != ODID_SUCCESS) {
        fprintf(stderr, "%s: the encoder refused it\n", name);
        return;
    }
    ODID_UAS_Data u = decoded(&enc);
    begin(name, &enc, 25);
    location_fields(&u.Location);
}

static ODID_Location_data base_location(void)
{
    ODID_Location_data l;
    odid_initLocationData(&l);
    l.Status = ODID_STATUS_AIRBORNE;
    l.Latitude = 44.4268;
    l.Longitude = 26.1025;
    l.AltitudeGeo = 120;
    l.TimeStamp = 1800;
    return l;
}

static void system_message(const char *name, ODID_System_data in)
{
    ODID_System_encoded enc;
    if (encodeSystemMessage(&enc, &in) != ODID_SUCCESS) {
        fprintf(stderr, "%s: the encoder refused it\n", name);
        return;
    }
    ODID_UAS_Data u = decoded(&enc);
    ODID_System_data *d = &u.System;
    begin(name, &enc, 25);
    printf("\"operator_location_type\": %d, \"classification_type\": %d, "
           "\"operator_latitude\": %.17g, \"operator_longitude\": %.17g, \"area_count\": %u, "
           "\"area_radius\": %u, \"area_ceiling\": %.9g, \"area_floor\": %.9g, "
           "\"category_eu\": %d, \"class_eu\": %d, \"operator_altitude_geo\": %.9g, "
           "\"system_timestamp\": %u}}",
           d->OperatorLocationType, d->ClassificationType, d->OperatorLatitude,
           d->OperatorLongitude, d->AreaCount, d->AreaRadius, d->AreaCeiling, d->AreaFloor,
           d->CategoryEU, d->ClassEU, d->OperatorAltitudeGeo, d->Timestamp);
}

static ODID_System_data base_system(void)
{
    ODID_System_data s;
    odid_initSystemData(&s);
    s.OperatorLatitude = 44.4268;
    s.OperatorLongitude = 26.1025;
    return s;
}

static void basic_id(const char *name, int id_type, int ua_type, const char *id, int n)
{
    ODID_BasicID_data in;
    odid_initBasicIDData(&in);
    in.IDType = id_type;
    in.UAType = ua_type;
    memcpy(in.UASID, id, n);
    ODID_BasicID_encoded enc;
    encodeBasicIDMessage(&enc, &in);
    ODID_UAS_Data u = decoded(&enc);
    begin(name, &enc, 25);
    printf("\"id_type\": %d, \"ua_type\": %d, ", u.BasicID[0].IDType, u.BasicID[0].UAType);
    hexfield("uas_id_hex", u.BasicID[0].UASID, ODID_ID_SIZE);
    if (id_type == ODID_IDTYPE_SERIAL_NUMBER || id_type == ODID_IDTYPE_CAA_REGISTRATION_ID)
        printf(", \"uas_id\": \"%s\"", u.BasicID[0].UASID);
    printf("}}");
}

static void self_id(const char *name, int desc_type, const char *text)
{
    ODID_SelfID_data in;
    odid_initSelfIDData(&in);
    in.DescType = desc_type;
    strncpy(in.Desc, text, sizeof(in.Desc) - 1);
    ODID_SelfID_encoded enc;
    encodeSelfIDMessage(&enc, &in);
    ODID_UAS_Data u = decoded(&enc);
    begin(name, &enc, 25);
    printf("\"desc_type\": %d, \"description\": \"%s\"}}", u.SelfID.DescType, u.SelfID.Desc);
}

static void operator_id(const char *name, int id_type, const char *text)
{
    ODID_OperatorID_data in;
    odid_initOperatorIDData(&in);
    in.OperatorIdType = id_type;
    strncpy(in.OperatorId, text, sizeof(in.OperatorId) - 1);
    ODID_OperatorID_encoded enc;
    encodeOperatorIDMessage(&enc, &in);
    ODID_UAS_Data u = decoded(&enc);
    begin(name, &enc, 25);
    printf("\"operator_id_type\": %d, \"operator_id\": \"%s\"}}", u.OperatorID.OperatorIdType,
           u.OperatorID.OperatorId);
}

/* Authentication: `total` bytes of data (the first `length` the signature, then, when `extra`,
 * the count of additional bytes and those bytes) over pages 0..last_page, each page a case. */
static void auth(const char *name, int auth_type, int last_page, int length, int extra,
                 uint32_t timestamp)
{
    unsigned char data[ODID_AUTH_PAGE_ZERO_DATA_SIZE + 15 * ODID_AUTH_PAGE_NONZERO_DATA_SIZE];
    memset(data, 0, sizeof(data));
    for (int i = 0; i < length; i++) data[i] = (unsigned char) (i * 7 + 1);
    if (extra) {
        data[length] = extra;
        for (int i = 0; i < extra; i++) data[length + 1 + i] = (unsigned char) (0xA0 + i);
    }
    for (int page = 0; page <= last_page; page++) {
        ODID_Auth_data in;
        odid_initAuthData(&in);
        in.AuthType = auth_type;
        in.DataPage = page;
        if (page == 0) {
            in.LastPageIndex = last_page;
            in.Length = length;
            in.Timestamp = timestamp;
            memcpy(in.AuthData, data, ODID_AUTH_PAGE_ZERO_DATA_SIZE);
        } else {
            memcpy(in.AuthData, data + ODID_AUTH_PAGE_ZERO_DATA_SIZE
                   + (page - 1) * ODID_AUTH_PAGE_NONZERO_DATA_SIZE, ODID_AUTH_PAGE_NONZERO_DATA_SIZE);
        }
        ODID_Auth_encoded enc;
        if (encodeAuthMessage(&enc, &in) != ODID_SUCCESS) {
            fprintf(stderr, "%s: the encoder refused page %d\n", name, page);
            return;
        }
        ODID_UAS_Data u = decoded(&enc);
        ODID_Auth_data *d = &u.Auth[page];
        char case_name[64];
        snprintf(case_name, sizeof(case_name), "%s_page_%d", name, page);
        begin(case_name, &enc, 25);
        printf("\"auth_type\": %d, \"page\": %d, ", d->AuthType, d->DataPage);
        if (page == 0) {
            printf("\"last_page_index\": %d, \"length\": %d, \"auth_timestamp\": %u, ",
                   d->LastPageIndex, d->Length, d->Timestamp);
            hexfield("auth_data", d->AuthData, ODID_AUTH_PAGE_ZERO_DATA_SIZE);
        } else {
            hexfield("auth_data", d->AuthData, ODID_AUTH_PAGE_NONZERO_DATA_SIZE);
        }
        printf("}}");
    }
}

static int edges(void)
{
    printf("[\n");
    ODID_Location_data l = base_location();

    /* latitude and longitude: rounding to 1e-7 degrees, the ends of their ranges */
    l.Latitude = 45.12345675; l.Longitude = -122.98765435; location("location_latlon_rounding", l);
    l.Latitude = -90; l.Longitude = 180; location("location_latlon_south_pole_antimeridian", l);
    l.Latitude = 90; l.Longitude = -180; location("location_latlon_north_pole_west", l);
    l.Latitude = 0; l.Longitude = -0.0000001; location("location_latlon_equator", l);
    l.Latitude = 0.00000004; l.Longitude = 0.00000006; location("location_latlon_rounds_to_tenth_microdegree", l);
    l = base_location();

    /* altitudes: truncated to 0.5 m steps from -1000 m, the top of the range, unknown */
    l.AltitudeBaro = 110.3f; l.AltitudeGeo = -999.5f; l.Height = 31767.5f;
    location("location_altitudes_truncated_and_limits", l);
    l.AltitudeBaro = -0.2f; l.AltitudeGeo = 0; l.Height = -1000;
    location("location_altitudes_below_zero_and_unknown_height", l);
    l.AltitudeBaro = -1000; l.AltitudeGeo = -1000; l.Height = 5.74f;
    location("location_altitudes_unknown", l);
    l = base_location();

    /* horizontal speed: 0.25 m/s up to 63.75, then the multiplier's 0.75 m/s steps */
    float speeds[] = {0, 0.12f, 0.13f, 63.75f, 63.76f, 64.2f, 64.5f, 100.5f, 254.25f, 255};
    const char *speed_names[] = {"0", "0_12", "0_13", "63_75", "63_76", "64_2", "64_5", "100_5",
                                 "254_25_max", "255_unknown"};
    for (int i = 0; i < 10; i++) {
        char name[64];
        snprintf(name, sizeof(name), "location_speed_%s", speed_names[i]);
        l.SpeedHorizontal = speeds[i];
        location(name, l);
    }
    l = base_location();

    /* direction: rounded to whole degrees, 180 and above with the east/west flag */
    float directions[] = {0, 179.4f, 179.5f, 180, 270.6f, 359, 359.5f, 360, 361};
    const char *direction_names[] = {"0", "179_4", "179_5", "180", "270_6", "359", "359_5_wraps",
                                     "360_wraps", "361_unknown"};
    for (int i = 0; i < 9; i++) {
        char name[64];
        snprintf(name, sizeof(name), "location_direction_%s", direction_names[i]);
        l.Direction = directions[i];
        location(name, l);
    }
    l = base_location();

    /* vertical speed: 0.5 m/s steps truncated toward zero, +-62 m/s, unknown 63 */
    float vspeeds[] = {62, -62, 0.4f, -0.6f, 12.75f, -12.75f, 63};
    const char *vspeed_names[] = {"62", "minus_62", "0_4", "minus_0_6", "12_75", "minus_12_75",
                                  "63_unknown"};
    for (int i = 0; i < 7; i++) {
        char name[64];
        snprintf(name, sizeof(name), "location_vertical_speed_%s", vspeed_names[i]);
        l.SpeedVertical = vspeeds[i];
        location(name, l);
    }
    l = base_location();

    /* timestamp: tenths of a second after the hour, rounded; the hour's end; unknown */
    float stamps[] = {0, 0.04f, 0.05f, 1234.56f, 3599.96f, 3600, INV_TIMESTAMP};
    const char *stamp_names[] = {"0", "0_04", "0_05", "1234_56", "3599_96", "3600", "unknown"};
    for (int i = 0; i < 7; i++) {
        char name[64];
        snprintf(name, sizeof(name), "location_timestamp_%s", stamp_names[i]);
        l.TimeStamp = stamps[i];
        location(name, l);
    }
    l = base_location();

    /* status, height reference and accuracies: the ends of each enum */
    l.Status = ODID_STATUS_UNDECLARED; l.HeightType = ODID_HEIGHT_REF_OVER_TAKEOFF;
    l.HorizAccuracy = ODID_HOR_ACC_UNKNOWN; l.VertAccuracy = ODID_VER_ACC_UNKNOWN;
    l.BaroAccuracy = ODID_VER_ACC_UNKNOWN; l.SpeedAccuracy = ODID_SPEED_ACC_UNKNOWN;
    l.TSAccuracy = ODID_TIME_ACC_UNKNOWN;
    location("location_enums_unknown", l);
    l.Status = ODID_STATUS_REMOTE_ID_SYSTEM_FAILURE; l.HeightType = ODID_HEIGHT_REF_OVER_GROUND;
    l.HorizAccuracy = ODID_HOR_ACC_1_METER; l.VertAccuracy = ODID_VER_ACC_1_METER;
    l.BaroAccuracy = ODID_VER_ACC_3_METER; l.SpeedAccuracy = ODID_SPEED_ACC_0_3_METERS_PER_SECOND;
    l.TSAccuracy = ODID_TIME_ACC_1_5_SECOND;
    location("location_enums_best", l);
    l.Status = ODID_STATUS_EMERGENCY;
    location("location_status_emergency", l);

    /* the whole unknown message: an initialised Location (position 0, 0 is unknown too) */
    odid_initLocationData(&l);
    location("location_all_unknown", l);

    /* System */
    ODID_System_data s = base_system();
    system_message("system_defaults", s);
    s.OperatorLocationType = ODID_OPERATOR_LOCATION_TYPE_FIXED;
    s.ClassificationType = ODID_CLASSIFICATION_TYPE_UNDECLARED;
    s.OperatorLatitude = -33.8688197; s.OperatorLongitude = -151.2092955;
    s.AreaCount = 65535; s.AreaRadius = 2550; s.AreaCeiling = 31767.5f; s.AreaFloor = -999.5f;
    s.OperatorAltitudeGeo = 12.3f; s.Timestamp = 0xFFFFFFFFu;
    system_message("system_limits", s);
    s = base_system();
    s.OperatorLocationType = ODID_OPERATOR_LOCATION_TYPE_LIVE_GNSS;
    s.ClassificationType = ODID_CLASSIFICATION_TYPE_EU;
    s.CategoryEU = ODID_CATEGORY_EU_CERTIFIED; s.ClassEU = ODID_CLASS_EU_CLASS_6;
    s.AreaCount = 3; s.AreaRadius = 1234; s.AreaCeiling = 150; s.AreaFloor = 0;
    s.OperatorAltitudeGeo = -1000; s.Timestamp = 1;
    system_message("system_eu_class_6_radius_rounded_down", s);
    s = base_system();
    s.OperatorLatitude = 0; s.OperatorLongitude = 0;
    system_message("system_operator_unknown", s);

    /* Basic ID: every ID type, binary IDs, a 20-character serial, the UA type's ends */
    basic_id("basic_id_serial_20_chars", ODID_IDTYPE_SERIAL_NUMBER, ODID_UATYPE_OTHER,
             "1596F12345678901ABCD", 20);
    basic_id("basic_id_caa", ODID_IDTYPE_CAA_REGISTRATION_ID, ODID_UATYPE_AEROPLANE,
             "FIN87astrdge12k8", 16);
    const char uuid[] = "\x3f\x2b\x8a\x10\x00\x4c\x4e\x9a\xb1\x7d\x02\xe5\x11\x23\xff\x80";
    basic_id("basic_id_utm_uuid", ODID_IDTYPE_UTM_ASSIGNED_UUID, ODID_UATYPE_HELICOPTER_OR_MULTIROTOR,
             uuid, 16);
    const char session[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14";
    basic_id("basic_id_specific_session", ODID_IDTYPE_SPECIFIC_SESSION_ID, ODID_UATYPE_GLIDER,
             session, 20);
    basic_id("basic_id_none", ODID_IDTYPE_NONE, ODID_UATYPE_NONE, "", 0);

    /* Self-ID and Operator ID: full-length texts, the type bytes' ends */
    self_id("self_id_23_chars", ODID_DESC_TYPE_TEXT, "Inspection of power lin");
    self_id("self_id_emergency", ODID_DESC_TYPE_EMERGENCY, "ENGINE FAILURE");
    self_id("self_id_private_type", 255, "x");
    operator_id("operator_id_20_chars", ODID_OPERATOR_ID, "FIN87astrdge12k8-xyz");
    operator_id("operator_id_private_type", 255, "");

    /* Authentication: one page; several pages with additional (FEC) data; the most pages */
    auth("auth_one_page", ODID_AUTH_UAS_ID_SIGNATURE, 0, 17, 0, 0);
    auth("auth_with_additional_data", ODID_AUTH_MESSAGE_SET_SIGNATURE, 3, 64, 21, 123456789);
    auth("auth_fifteen_pages", ODID_AUTH_SPECIFIC_AUTHENTICATION, 15, 255, 60, 0xFFFFFFFFu);

    reserved_and_raw();
    packs();

    printf("\n]\n");
    return 0;
}

/* Values the encoder cannot make (a sender bypassing it): written into its output's fields, with
 * what the library's decoder reads from them, as a hostile or broken transmitter sends them. */
static void raw_location(const char *name, void (*patch)(ODID_Location_encoded *))
{
    ODID_Location_data in = base_location();
    ODID_Location_encoded enc;
    encodeLocationMessage(&enc, &in);
    patch(&enc);
    ODID_UAS_Data u = decoded(&enc);
    begin(name, &enc, 25);
    location_fields(&u.Location);
}

static void lat_91(ODID_Location_encoded *e) { e->Latitude = 910000000; }
static void lon_minus_180_1(ODID_Location_encoded *e) { e->Longitude = -1801000000; }
static void lat_max_int(ODID_Location_encoded *e) { e->Latitude = 0x7FFFFFFF; }
static void direction_435(ODID_Location_encoded *e) { e->Direction = 255; e->EWDirection = 1; }
static void direction_362(ODID_Location_encoded *e) { e->Direction = 182; e->EWDirection = 1; }
static void vspeed_minus_64(ODID_Location_encoded *e) { e->SpeedVertical = -128; }
static void vspeed_63_5(ODID_Location_encoded *e) { e->SpeedVertical = 127; }
static void timestamp_3600_1(ODID_Location_encoded *e) { e->TimeStamp = 36001; }
static void timestamp_fffe(ODID_Location_encoded *e) { e->TimeStamp = 0xFFFE; }
static void altitudes_top(ODID_Location_encoded *e)
{
    e->AltitudeBaro = 0xFFFF; e->AltitudeGeo = 0; e->Height = 1;
}

static void reserved_and_raw(void)
{
    /* the enums' reserved values: the encoder takes any 4-bit value; the decoder gives it back */
    ODID_Location_data l = base_location();
    l.Status = 15; l.HorizAccuracy = 15; l.VertAccuracy = 15; l.BaroAccuracy = 15;
    l.SpeedAccuracy = 15; l.TSAccuracy = 15;
    location("location_enums_reserved", l);
    basic_id("basic_id_reserved_types", 15, 15, "RESERVED-TYPES", 14);
    ODID_System_data s = base_system();
    s.OperatorLocationType = 3; s.ClassificationType = 7; s.CategoryEU = 15; s.ClassEU = 15;
    system_message("system_enums_reserved", s);
    auth("auth_reserved_type", 15, 0, 5, 0, 1);

    raw_location("location_raw_latitude_91", lat_91);
    raw_location("location_raw_longitude_minus_180_1", lon_minus_180_1);
    raw_location("location_raw_latitude_int32_max", lat_max_int);
    raw_location("location_raw_direction_435", direction_435);
    raw_location("location_raw_direction_362", direction_362);
    raw_location("location_raw_vertical_speed_minus_64", vspeed_minus_64);
    raw_location("location_raw_vertical_speed_63_5", vspeed_63_5);
    raw_location("location_raw_timestamp_3600_1", timestamp_3600_1);
    raw_location("location_raw_timestamp_fffe", timestamp_fffe);
    raw_location("location_raw_altitudes_ends", altitudes_top);
}

/* Message packs: `types` gives each message's type (its content from the encoder's own output);
 * `size` and `count` are written into the header as given, so that the packs the standard calls
 * invalid (more than one Location, Self-ID, System or Operator ID, more than two Basic IDs, a pack
 * in a pack, a count outside 1..9, messages not 25 bytes) can be made; "c" holds how many messages
 * the library's decoder (decodeMessagePack) took, or "refused". */
static void pack(const char *name, const int *types, int n, int size, int count)
{
    ODID_UAS_Data uas;
    odid_initUasData(&uas);
    ODID_Location_data l = base_location();
    ODID_System_data s = base_system();
    ODID_Message_encoded one[16];
    memset(one, 0, sizeof(one));
    ODID_BasicID_data b;
    odid_initBasicIDData(&b);
    b.IDType = ODID_IDTYPE_SERIAL_NUMBER;
    b.UAType = ODID_UATYPE_HELICOPTER_OR_MULTIROTOR;
    strcpy(b.UASID, "1596F12345678901ABCD");
    encodeBasicIDMessage(&one[ODID_MESSAGETYPE_BASIC_ID].basicId, &b);
    encodeLocationMessage(&one[ODID_MESSAGETYPE_LOCATION].location, &l);
    ODID_Auth_data a;
    odid_initAuthData(&a);
    a.AuthType = ODID_AUTH_UAS_ID_SIGNATURE;
    a.Length = 17;
    encodeAuthMessage(&one[ODID_MESSAGETYPE_AUTH].auth, &a);
    ODID_SelfID_data self;
    odid_initSelfIDData(&self);
    strcpy(self.Desc, "pack");
    encodeSelfIDMessage(&one[ODID_MESSAGETYPE_SELF_ID].selfId, &self);
    encodeSystemMessage(&one[ODID_MESSAGETYPE_SYSTEM].system, &s);
    ODID_OperatorID_data op;
    odid_initOperatorIDData(&op);
    strcpy(op.OperatorId, "FIN87astrdge12k8");
    encodeOperatorIDMessage(&one[ODID_MESSAGETYPE_OPERATOR_ID].operatorId, &op);
    one[ODID_MESSAGETYPE_PACKED].rawData[0] = ODID_MESSAGETYPE_PACKED << 4 | ODID_PROTOCOL_VERSION;
    one[ODID_MESSAGETYPE_PACKED].rawData[1] = ODID_MESSAGE_SIZE;
    one[ODID_MESSAGETYPE_PACKED].rawData[2] = 1;

    unsigned char bytes[3 + 10 * ODID_MESSAGE_SIZE];
    bytes[0] = ODID_MESSAGETYPE_PACKED << 4 | ODID_PROTOCOL_VERSION;
    bytes[1] = size;
    bytes[2] = count;
    for (int i = 0; i < n; i++)
        memcpy(bytes + 3 + i * ODID_MESSAGE_SIZE, one[types[i]].rawData, ODID_MESSAGE_SIZE);
    ODID_MessagePack_encoded enc;
    memset(&enc, 0, sizeof(enc));
    memcpy(&enc, bytes, 3 + (n < ODID_PACK_MAX_MESSAGES ? n : ODID_PACK_MAX_MESSAGES) * ODID_MESSAGE_SIZE);
    int refused = decodeMessagePack(&uas, &enc) != ODID_SUCCESS;
    if (!refused && size == ODID_MESSAGE_SIZE) {
        /* a valid pack is also what the library's own pack encoder makes of these messages */
        ODID_MessagePack_data data;
        odid_initMessagePackData(&data);
        data.MsgPackSize = count;
        memcpy(data.Messages, bytes + 3, count * ODID_MESSAGE_SIZE);
        ODID_MessagePack_encoded built;
        if (encodeMessagePack(&built, &data) != ODID_SUCCESS
                || memcmp(&built, bytes, 3 + count * ODID_MESSAGE_SIZE) != 0)
            fprintf(stderr, "%s: the library packs these messages otherwise\n", name);
    }
    begin(name, bytes, 3 + n * ODID_MESSAGE_SIZE);
    if (refused)
        printf("\"refused\": true}}");
    else
        printf("\"messages\": %d}}", count);
}

static void packs(void)
{
    enum { B = ODID_MESSAGETYPE_BASIC_ID, L = ODID_MESSAGETYPE_LOCATION,
           A = ODID_MESSAGETYPE_AUTH, S = ODID_MESSAGETYPE_SELF_ID,
           Y = ODID_MESSAGETYPE_SYSTEM, O = ODID_MESSAGETYPE_OPERATOR_ID,
           P = ODID_MESSAGETYPE_PACKED };
    const int one[] = {L};
    const int nine[] = {B, B, L, A, A, A, S, Y, O};
    const int ten[] = {B, L, A, A, A, A, A, S, Y, O};
    pack("pack_one_message", one, 1, 25, 1);
    pack("pack_nine_messages", nine, 9, 25, 9);
    const int two_locations[] = {B, L, L};
    pack("pack_invalid_two_locations", two_locations, 3, 25, 3);
    const int three_basic[] = {B, B, B, L};
    pack("pack_invalid_three_basic_ids", three_basic, 4, 25, 4);
    const int two_self[] = {S, L, S};
    pack("pack_invalid_two_self_ids", two_self, 3, 25, 3);
    const int two_system[] = {Y, Y};
    pack("pack_invalid_two_systems", two_system, 2, 25, 2);
    const int two_operator[] = {O, B, O};
    pack("pack_invalid_two_operator_ids", two_operator, 3, 25, 3);
    const int in_pack[] = {B, P};
    pack("pack_invalid_pack_in_pack", in_pack, 2, 25, 2);
    pack("pack_invalid_ten_messages", ten, 10, 25, 10);
    pack("pack_invalid_zero_messages", one, 0, 25, 0);
    pack("pack_invalid_message_size_24", one, 1, 24, 1);
}
