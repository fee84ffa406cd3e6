"""DORA figures: windows, the report, and the pure reference the SQL is tested against."""
