"""Excel workbooks (.xlsx through openpyxl, .xls through xlrd) as sources."""
