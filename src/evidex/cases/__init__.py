"""Cases: the specific investigation or proceeding a request serves (ETS185 Art 25(1))."""
