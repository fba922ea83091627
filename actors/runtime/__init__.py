"""What every actor leans on: supervision (OTP semantics), the directory of actor
references, the ticker, the socket pump, the kill switch gate, the status board, and
operator confirmation by TOTP."""
