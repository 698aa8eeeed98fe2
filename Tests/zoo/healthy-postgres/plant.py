"""A small normal workload: one table, a few short committed transactions, vacuumed and analyzed. Nothing else."""


def plant(zoo) -> dict:
    pg = zoo.pg
    pg.value("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
             "INSERT INTO customers (id, name, email) SELECT i, 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 1000) i")
    for n in range(1, 6):
        pg.value(f"BEGIN; UPDATE customers SET name = name || '.' WHERE id = {n}; INSERT INTO customers (id, name, email)"
                 f" VALUES ({1000 + n}, 'new {n}', 'new{n}@example.com'); COMMIT")
    pg.value("SELECT count(*) FROM customers WHERE email LIKE '%@example.com'")
    pg.value("VACUUM ANALYZE customers")
    return {}
