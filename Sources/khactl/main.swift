import KhactlCore
