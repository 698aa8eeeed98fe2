#include <sqlite3.h>
#include "helpdesk_sqlite_tuning.h"

// Each store write runs in a savepoint whose journal keeps the pages it changes. Past SQLite's 64 KB
// default the journal moves to a temporary file for the rest of the transaction, and an alert storm's
// group commits then wrote every journaled page to it (a quarter of the writer's time). 8 MB keeps any
// usual write in memory and still bounds a huge one. SQLite allocates the journal as one block of this
// size per write and frees it as the write's savepoint is released; glibc serves it from the heap after
// the first, touching only the pages journaled. The setting is process-wide: readers never journal.
// sqlite3_config is variadic (Swift cannot call it) and only works before SQLite initializes, so it
// runs as the process loads, before any thread can open a database.
static const int subjournal_spill_bytes = 8 * 1024 * 1024;
static long configured_spill_bytes = 0;

__attribute__((constructor)) static void helpdesk_sqlite_configure(void) {
    if (sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, subjournal_spill_bytes) == SQLITE_OK) {
        configured_spill_bytes = subjournal_spill_bytes;
    }
}

long helpdesk_sqlite_subjournal_spill_bytes(void) {
    return configured_spill_bytes;
}
