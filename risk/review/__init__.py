"""Human review of the warning list: the append-only decision store, the Excel round trip, the review
web page and the audit sample (issue 6). `risk import-national` lives here too (`national.py`)."""
