complete --keep-order --exclusive --command qcc --arguments "(COMPLETE=fish qcc -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
