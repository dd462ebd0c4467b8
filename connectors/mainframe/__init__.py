"""Mainframe record files: EBCDIC data described by a COBOL copybook (kind `ebcdic`)."""
