print("stmae")
