"""What tests share beyond fixtures: the `ferryman` command in a child process (`cli`) and
small projects built in a few lines (`project`)."""
