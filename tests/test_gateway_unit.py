"""The gateway's systemd unit (docs/systemd/straja-gateway.service): sandboxed, private files,
only its state directory writable; and the install notes keep the MQTT password's file 0600."""
import configparser

from straja.paths import REPO

UNIT = REPO / "docs" / "systemd" / "straja-gateway.service"


def service():
    unit = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def test_unit_is_sandboxed_and_writes_only_its_state():
    s = service()
    assert s["User"] == "straja" and s["UMask"] == "0027"
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "RestrictSUIDSGID",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups"):
        assert s[key] == "true", key
    assert s["ProtectSystem"] == "strict" and s["CapabilityBoundingSet"] == ""
    # the one writable place is the state directory systemd makes for the service
    assert s["StateDirectory"] == "straja" and s["ReadWritePaths"] == "/var/lib/straja"
    assert "PrivateDevices" not in s  # the nodes' serial ports are devices


def test_install_notes_keep_the_mqtt_password_private_and_recommend_tls():
    doc = (REPO / "docs" / "gateway.md").read_text()
    assert "install -m 0600 -o straja -g straja /dev/null /etc/straja/gateway.toml" in doc
    assert "The recommended MQTT setup is TLS with authentication" in doc
    assert "allow_anonymous false" in doc and "tls = true" in doc
