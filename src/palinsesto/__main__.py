from palinsesto.cli import main

main()
