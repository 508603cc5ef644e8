/// An XML element of the CIB that the typed model does not (fully) understand, kept verbatim.
///
/// Opaque elements are rendered back exactly as they were read, so reading a CIB and writing it back never loses
/// anything. The ids an opaque element defines are extracted once when it is read, so validation can still resolve
/// references into it (a constraint on a resource inside a `bundle`, for instance).
public struct OpaqueXML: Hashable, Sendable {
    /// The element's tag name (`bundle`, `rsc_ticket`, `tags`, ...).
    public var name: String
    /// The element serialized as XML text, exactly as read.
    public var xml: String
    /// The `id` attribute of the element itself, if it has one.
    public var id: String?
    /// Every `id` attribute defined by the element or its descendants, with the tag that defines it.
    public var definedIDs: [DefinedID]

    /// An `id` defined somewhere inside an opaque element.
    public struct DefinedID: Hashable, Sendable {
        /// The tag of the element carrying the id.
        public var element: String
        /// The id itself.
        public var id: String
        /// Creates a defined id.
        public init(element: String, id: String) {
            self.element = element
            self.id = id
        }
    }

    /// Creates an opaque element from its XML text and the facts extracted from it.
    public init(name: String, xml: String, id: String?, definedIDs: [DefinedID]) {
        self.name = name
        self.xml = xml
        self.id = id
        self.definedIDs = definedIDs
    }

    /// The tags whose ids name resources that constraints may reference.
    static let resourceTags: Set<String> = ["primitive", "group", "clone", "master", "bundle", "template"]

    /// The resource ids defined inside this element (primitives, groups, clones, bundles, templates).
    public var resourceIDs: [String] {
        definedIDs.filter { Self.resourceTags.contains($0.element) }.map(\.id)
    }
}
