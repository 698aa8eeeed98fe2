#ifndef HELPDESK_SQLITE_TUNING_H
#define HELPDESK_SQLITE_TUNING_H

/// Bytes a savepoint journal may hold in memory before SQLite moves it to a temporary file, as set when
/// the process started; 0 when SQLite refused the setting (it was already initialized).
long helpdesk_sqlite_subjournal_spill_bytes(void);

#endif
