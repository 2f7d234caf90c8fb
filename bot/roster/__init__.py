"""Roster CSV import: values, file reading, the import."""
