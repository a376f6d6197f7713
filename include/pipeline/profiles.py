"""dbt profiles from the Airflow Trino connection, for each way Trino authenticates.

Cosmos ships Trino mappings for LDAP, JWT and certificates only; a local Trino without authentication
needs one of its own.
"""

from __future__ import annotations

from typing import Any

from cosmos.profiles.trino.base import TrinoBaseProfileMapping
from cosmos.profiles.trino.jwt import TrinoJWTProfileMapping
from cosmos.profiles.trino.ldap import TrinoLDAPProfileMapping


class TrinoNoAuthProfileMapping(TrinoBaseProfileMapping):
    """Trino over plain HTTP with only a user name: the local stack."""

    dbt_profile_method = "none"
    airflow_param_mapping = {**TrinoBaseProfileMapping.airflow_param_mapping, "http_scheme": "extra.protocol"}

    @property
    def profile(self) -> dict[str, Any]:
        return self.filter_null({**self.mapped_params, **self.profile_args})


class TrinoLDAPHttpsProfileMapping(TrinoLDAPProfileMapping):
    """User and password over HTTPS (a Trino cluster, Starburst Galaxy); the scheme is the connection's protocol."""

    airflow_param_mapping = {**TrinoLDAPProfileMapping.airflow_param_mapping, "http_scheme": "extra.protocol"}


class TrinoJWTHttpsProfileMapping(TrinoJWTProfileMapping):
    """A JWT over HTTPS; the scheme is the connection's protocol."""

    airflow_param_mapping = {**TrinoJWTProfileMapping.airflow_param_mapping, "http_scheme": "extra.protocol"}


class TrinoGalaxyProfileMapping(TrinoLDAPHttpsProfileMapping):
    """Starburst Galaxy: user `<email>/<role>` and password, always HTTPS on 443 (Galaxy serves nothing else).

    The password still reaches dbt only as an env_var() reference (Cosmos's `secret_fields`), like dbt's
    `galaxy` target in dbt/lakehouse/profiles.yml, which this mapping matches.
    """

    @property
    def profile(self) -> dict[str, Any]:
        return {**super().profile, "http_scheme": "https", "port": self.conn.port or 443}


MAPPINGS = {
    "none": TrinoNoAuthProfileMapping,
    "ldap": TrinoLDAPHttpsProfileMapping,
    "jwt": TrinoJWTHttpsProfileMapping,
    "galaxy": TrinoGalaxyProfileMapping,
}


def profile_mapping(auth: str) -> type[TrinoBaseProfileMapping]:
    try:
        return MAPPINGS[auth]
    except KeyError:
        raise ValueError(f"LAKEHOUSE_TRINO_AUTH={auth!r}: expected one of {', '.join(MAPPINGS)}") from None
