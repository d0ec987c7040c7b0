"""Scale-out tests against real PostgreSQL and Redis servers started on loopback."""
