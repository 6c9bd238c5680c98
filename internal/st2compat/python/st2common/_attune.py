"""What the wrapper learned about the current run, for the compatibility
modules to read: the API's address and the run's token never travel in the
environment or in argv."""

api_url = None
token = None
pack = None
execution_id = None
user = None
log_level = "DEBUG"
