"""The live web dashboard of a gateway (docs/dashboard.md): `straja gateway --web ADDR`."""
