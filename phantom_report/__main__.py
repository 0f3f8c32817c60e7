from phantom_report.cli import main

main()
