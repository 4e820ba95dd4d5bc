namespace UserLB.Engine.Config;

/// <summary>
/// A static persistence session of a farm (nftlb <c>sessions</c>): the client key, as nftlb writes it
/// (the persistence fields joined by <c>" . "</c>, e.g. <c>192.168.44.4 . 95</c>), pinned to a backend.
/// </summary>
/// <param name="Client">nftlb <c>client</c>, kept verbatim.</param>
/// <param name="Backend">nftlb <c>backend</c>: the name of a backend of the same farm.</param>
public sealed record StaticSession(string Client, string Backend);
