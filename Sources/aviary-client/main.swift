print("aviary-client: not built yet")
