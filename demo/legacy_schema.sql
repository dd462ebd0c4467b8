-- The demo legacy CRM, as the old system defined it: everything TEXT (it stored what it
-- was given), no primary keys, no foreign keys. That is how its defects got in.
-- Codes: STAT A/I/S/C (active, inactive, suspended, closed; 'Z' seen in the wild),
-- ORDSTS O/S/X/H (open, shipped, cancelled, on hold). Dates come in three formats:
-- YYYYMMDD, DD/MM/YYYY, YYYY-MM-DD. Money is text with thousands separators: 12,500.00.

CREATE TABLE CUSTMAST (
    CUSTNO TEXT,  -- zero-padded, 7 digits
    FNAME  TEXT,  -- padded with spaces to 15 characters
    LNAME  TEXT,  -- padded with spaces to 20 characters
    EMAIL  TEXT,
    STAT   TEXT,
    CRTDT  TEXT,  -- created on
    CRLIM  TEXT,  -- credit limit
    CNTRY  TEXT   -- ISO 3166 alpha-2
);

CREATE TABLE ORDHDR (
    ORDNO  INTEGER,
    CUSTNO TEXT,
    ORDDT  TEXT,
    ORDSTS TEXT,
    TOTAMT TEXT   -- sum of the order's lines
);

CREATE TABLE ORDLIN (
    ORDNO  INTEGER,
    LINNO  INTEGER,  -- 1..n within an order
    PRODCD TEXT,     -- exports/PRODUCTS.CSV
    QTY    TEXT,
    UNITPR TEXT
);
