"""Fetch pinned Trino and s3proxy artifacts from Maven Central with `mvn dependency:copy`, cached outside the repo."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from devtools.stack.process import StackError


def maven_fetch(service: str, coordinate: str, dest_dir: Path, filename: str) -> Path:
    """Download `group:artifact:version:type[:classifier]` once; later calls reuse the cached file."""
    target = dest_dir / filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    if shutil.which("mvn") is None:
        raise StackError(service, None, None, "Maven (`mvn`) is not installed; run scripts/setup.sh")
    dest_dir.mkdir(parents=True, exist_ok=True)
    log = dest_dir / f"{filename}.mvn.log"
    cmd = ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={dest_dir}"]
    with open(log, "w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not target.is_file():
        raise StackError(service, None, log, f"could not download {coordinate} from Maven Central")
    return target


def trino_home(cache: Path, version: str) -> Path:
    """An unpacked trino-server-core with only the Iceberg plugin added (a third of the full server's size)."""
    home = cache / f"trino-server-{version}"
    marker = home / ".ready"
    if marker.exists():
        return home
    downloads = cache / "downloads"
    core = maven_fetch("trino", f"io.trino:trino-server-core:{version}:tar.gz", downloads,
                       f"trino-server-core-{version}.tar.gz")
    iceberg = maven_fetch("trino", f"io.trino:trino-iceberg:{version}:zip", downloads, f"trino-iceberg-{version}.zip")
    staging = cache / f".trino-server-{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(core) as tar:
        tar.extractall(staging, filter="tar")
    (top,) = [p for p in staging.iterdir() if p.is_dir()]
    plugin_dir = top / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    with zipfile.ZipFile(iceberg) as zf:
        zf.extractall(plugin_dir)
    extracted = [p for p in plugin_dir.iterdir() if p.is_dir() and p.name.startswith("trino-iceberg")]
    for p in extracted:
        p.rename(plugin_dir / "iceberg")
    shutil.rmtree(home, ignore_errors=True)
    top.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    marker.touch()
    return home


def s3proxy_jar(cache: Path, version: str) -> Path:
    return maven_fetch(
        "s3proxy",
        f"org.gaul:s3proxy:{version}:jar:jar-with-dependencies",
        cache / "downloads",
        f"s3proxy-{version}-jar-with-dependencies.jar",
    )
