"""The operator at scale: ARM read budget, restart cost, convergence, reaction, extension health, memory."""
