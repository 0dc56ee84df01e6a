"""`plano-daemon demo`: the real gateway in front of simulated upstreams, replaying a scripted session."""

from plano_daemon.demo.session import run_demo as run_demo
