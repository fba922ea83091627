"""The Account actor and what it is built from: sizing, smart exits, order requests,
client order ids, recovery of uncertain orders, close jobs, its view of the terminal."""
