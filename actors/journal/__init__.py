"""The Journal actor (the only SQLite writer), its tables, and performance figures."""
