from phantom_report.cli import console_main

console_main()
