def origin():
    return "pack lib"
