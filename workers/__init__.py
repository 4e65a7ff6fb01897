"""Background jobs (RQ). Each job calls a function of app.services; see README, "Jobs"."""
