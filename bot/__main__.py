import sys

from medcrypt.bot.cli import main

sys.exit(main())
