public enum KhactlCoreVersion { public static let string = "0.1.0" }
