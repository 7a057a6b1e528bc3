print("aviary-server: not built yet")
