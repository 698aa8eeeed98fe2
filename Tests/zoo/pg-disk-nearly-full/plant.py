"""One table (blobs) grows until the databases plus WAL fill 94.5% of the capacity declared for the server. PostgreSQL
knows sizes, not free space: the capacity is the inventory's `disk_capacity`, computed here from what was measured."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, number  # noqa: E402

TABLE = "blobs"
ROWS = 100_000   # ~75 MB: the table dominates the data
TARGET_RATIO = 0.945  # the middle of 0.92-0.97, so small drift (catalog writes, a WAL segment's metadata) stays inside

USED_SQL = "SELECT (SELECT sum(pg_database_size(oid)) FROM pg_database) + (SELECT coalesce(sum(size), 0) FROM pg_ls_waldir())"


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, owner text NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL)")
    pg.value(f"INSERT INTO {TABLE} SELECT i, 'tenant-' || (i % 40), repeat(md5(i::text), 20), now() FROM generate_series(1, {ROWS}) i")
    # Settle what would move the sizes during the diagnosis: vacuum/analyze now (not by autovacuum later), and a
    # checkpoint, after which WAL segments are recycled (renamed) rather than added.
    pg.value(f"VACUUM ANALYZE {TABLE}")
    pg.value("CHECKPOINT")
    used = number(pg, USED_SQL)
    capacity = int(used / TARGET_RATIO)
    ratio = number(pg, USED_SQL) / capacity
    if not 0.92 < ratio < 0.97:
        raise PlantError(f"used {used:.0f} bytes moved: ratio {ratio:.4f} against {capacity}")
    return {"bindings": {"table": TABLE}, "inventory": {"disk_capacity": capacity}}
