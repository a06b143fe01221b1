from evidex.cli import main

main()
