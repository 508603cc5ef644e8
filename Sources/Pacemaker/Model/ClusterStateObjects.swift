/// Objects in the configuration section that are cluster state rather than configuration: move and ban
/// constraints and khactl's rolling-upgrade record. The apply engine neither adopts, prunes nor reports them,
/// and `spec from-cib` leaves them out of the spec.
public enum ClusterStateObjects {
    /// The id of the property set in which a rolling upgrade records itself (and locks out a second one).
    public static let upgradeRecordSetID = "khactl-upgrade"

    /// Whether a constraint id is a move or ban constraint: `cli-prefer-RSC` and `cli-ban-RSC-on-NODE` (made by
    /// crm_resource, which khactl, pcs and crmsh run) and crmsh's older `cli-standby-RSC`.
    public static func isTemporaryConstraint(_ id: String) -> Bool {
        id.hasPrefix("cli-prefer-") || id.hasPrefix("cli-ban-") || id.hasPrefix("cli-standby-")
    }

    /// `configuration` without the cluster-state objects.
    public static func removed(from configuration: Configuration) -> Configuration {
        var result = configuration
        result.constraints.removeAll { $0.id.map(isTemporaryConstraint) ?? false }
        result.properties.removeAll { $0.id == upgradeRecordSetID }
        return result
    }
}
