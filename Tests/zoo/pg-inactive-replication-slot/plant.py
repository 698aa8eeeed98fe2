"""A physical replication slot whose consumer is gone stays inactive while writes go on; it retains over 1 GB of WAL."""
import sys
from pathlib import Path

ZOO = str(Path(__file__).resolve().parents[1])
if ZOO not in sys.path:  # the scorer may load this file from anywhere; pg_helpers sits beside the class folders
    sys.path.insert(0, ZOO)
from pg_helpers import PlantError, number, switch_wal  # noqa: E402

SLOT = "analytics_standby"
RETAINED_BYTES = 1_200_000_000  # the runbooks act from 1 GiB (1 073 741 824): keep a margin


def _retained(pg) -> float:
    return number(pg, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = '{SLOT}'")


def plant(zoo) -> dict:
    pg = zoo.pg
    # immediately_reserve: the slot pins WAL from now on, as one whose standby once streamed and then went away.
    pg.value(f"SELECT pg_create_physical_replication_slot('{SLOT}', true)")
    # Real WAL, cheaply: each step writes a row and ends its 16 MB segment; nothing consumes the slot.
    for _ in range(20):
        if _retained(pg) > RETAINED_BYTES:
            break
        switch_wal(pg, 10)
    else:
        raise PlantError(f"slot {SLOT} retains only {_retained(pg):.0f} bytes")
    # A checkpoint would recycle every segment the slot did not pin; it pins them all.
    pg.value("CHECKPOINT")
    if _retained(pg) <= RETAINED_BYTES or pg.value(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{SLOT}'") != "f":
        raise PlantError(f"slot {SLOT} is not an inactive slot retaining {RETAINED_BYTES} bytes")
    return {"slot": SLOT}
