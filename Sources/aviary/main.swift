print("aviary: not built yet")
