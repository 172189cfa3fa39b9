"""RQ jobs. Each takes ids and ISO dates, opens its own short transaction and is safe to run twice."""
