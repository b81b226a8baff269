"""Knowledge: incidents with root cause and solution, and runbooks."""
