from gait.cli.main import entry

entry()
