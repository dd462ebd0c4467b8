"""dBase / FoxPro / Visual FoxPro tables (.dbf with .dbt/.fpt memo files) as sources."""
