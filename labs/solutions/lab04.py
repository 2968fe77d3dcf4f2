# Solution to lab 04: change only user_config (the greeting). Serve calls reconfigure() on the running
# replicas, nothing restarts, and clients see the new greeting within a second.
path.write_text(path.read_text().replace("greeting: Hello", "greeting: Bonjour"))
