"""One capture over two processes (``parallel``): the front reads and tracks flows, the back
dissects and detects; the output is the same as one process's.
"""
