"""Where the dbt docs task writes and reads its files in an s3:// docs folder."""

from __future__ import annotations

import pytest

from include.pipeline.dbt_docs import FINGERPRINT, _s3_location


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://docs-bucket/dbt-docs/lakehouse", ("docs-bucket", "dbt-docs/lakehouse/fingerprint.txt")),
    ("s3://docs-bucket/dbt-docs/lakehouse/", ("docs-bucket", "dbt-docs/lakehouse/fingerprint.txt")),
    ("s3://docs-bucket", ("docs-bucket", "fingerprint.txt")),
])
def test_the_fingerprint_is_read_where_it_is_published(url, expected):
    assert _s3_location(url, FINGERPRINT) == expected
