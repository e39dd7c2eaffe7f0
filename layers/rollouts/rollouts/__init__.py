"""Lambda Rollouts core: strategies, plans, decisions and the AWS edge."""
