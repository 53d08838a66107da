using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace FinQLora.Distributed;

/// <summary>
/// NCCL through P/Invoke (libnccl.so.2). Rank 0 creates the unique id and hands it to the other ranks
/// over TCP at the master address (as torchrun's rendezvous does); then every rank joins the
/// communicator. Collectives run on the CUDA stream libtorch uses (the default stream) on the tensors'
/// device pointers.
/// </summary>
public sealed unsafe partial class NcclCommunicator : ICommunicator
{
    private const string Lib = "libnccl.so.2";
    private IntPtr _comm;

    public int Rank { get; }
    public int WorldSize { get; }

    [StructLayout(LayoutKind.Sequential)]
    private struct UniqueId { public fixed byte Internal[128]; }

    [LibraryImport(Lib)] private static partial int ncclGetUniqueId(out UniqueId id);
    [LibraryImport(Lib)] private static partial int ncclCommInitRank(out IntPtr comm, int nranks, UniqueId id, int rank);
    [LibraryImport(Lib)] private static partial int ncclAllReduce(IntPtr send, IntPtr recv, nuint count, int datatype, int op, IntPtr comm, IntPtr stream);
    [LibraryImport(Lib)] private static partial int ncclBroadcast(IntPtr send, IntPtr recv, nuint count, int datatype, int root, IntPtr comm, IntPtr stream);
    [LibraryImport(Lib)] private static partial int ncclCommDestroy(IntPtr comm);
    [LibraryImport(Lib)] private static partial IntPtr ncclGetErrorString(int result);
    [LibraryImport("LibTorchSharp")] private static partial IntPtr THSTensor_data(IntPtr handle);

    private NcclCommunicator(int rank, int worldSize, UniqueId id)
    {
        Rank = rank;
        WorldSize = worldSize;
        Check(ncclCommInitRank(out _comm, worldSize, id, rank), "ncclCommInitRank");
    }

    /// <summary>Joins the group: rank 0 serves the unique id on masterAddr:masterPort, the others fetch it (retrying for up to <paramref name="timeout"/>).</summary>
    public static NcclCommunicator Create(int rank, int worldSize, string masterAddr, int masterPort, TimeSpan timeout)
    {
        NativeLoader.EnsureNccl();
        UniqueId id;
        if (rank == 0)
        {
            Check(ncclGetUniqueId(out id), "ncclGetUniqueId");
            var bytes = new byte[128];
            for (int i = 0; i < 128; i++) bytes[i] = id.Internal[i];
            ServeId(bytes, masterAddr, masterPort, worldSize - 1, timeout);
        }
        else
        {
            var bytes = FetchId(masterAddr, masterPort, timeout);
            id = default;
            for (int i = 0; i < 128; i++) id.Internal[i] = bytes[i];
        }
        return new NcclCommunicator(rank, worldSize, id);
    }

    private static void ServeId(byte[] id, string addr, int port, int clients, TimeSpan timeout)
    {
        if (clients == 0) return;
        var listener = new TcpListener(IPAddress.Parse(addr == "localhost" ? "127.0.0.1" : addr), port);
        listener.Start();
        var thread = new Thread(() =>
        {
            try
            {
                for (int served = 0; served < clients; served++)
                {
                    using var client = listener.AcceptTcpClient();
                    client.GetStream().Write(id);
                }
            }
            catch (SocketException) { }
            finally { listener.Stop(); }
        }) { IsBackground = true, Name = "nccl-rendezvous" };
        thread.Start();
    }

    private static byte[] FetchId(string addr, int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(addr, port);
                var bytes = new byte[128];
                client.GetStream().ReadExactly(bytes);
                return bytes;
            }
            catch (Exception e) when (e is SocketException or IOException or EndOfStreamException)
            {
                if (DateTime.UtcNow > deadline) throw new FinQLoraException($"could not reach rank 0 at {addr}:{port} within {timeout.TotalSeconds:F0} s ({e.Message}); check --master-addr/--master-port");
                Thread.Sleep(200);
            }
        }
    }

    public void AllReduceSum(Tensor tensor)
    {
        var p = THSTensor_data(tensor.Handle);
        Check(ncclAllReduce(p, p, (nuint)tensor.NumberOfElements, DataType(tensor.dtype), 0 /* ncclSum */, _comm, IntPtr.Zero), "ncclAllReduce");
    }

    public void Broadcast(Tensor tensor, int root)
    {
        var p = THSTensor_data(tensor.Handle);
        Check(ncclBroadcast(p, p, (nuint)tensor.NumberOfElements, DataType(tensor.dtype), root, _comm, IntPtr.Zero), "ncclBroadcast");
    }

    private static int DataType(ScalarType t) => t switch
    {
        ScalarType.Float32 => 7, ScalarType.Float16 => 6, ScalarType.BFloat16 => 9, ScalarType.Float64 => 8,
        ScalarType.Int64 => 4, ScalarType.Int32 => 2, ScalarType.Byte => 1,
        _ => throw new FinQLoraException($"NCCL: unsupported dtype {t}"),
    };

    private static void Check(int result, string what)
    {
        if (result != 0) throw new FinQLoraException($"{what} failed: {Marshal.PtrToStringAnsi(ncclGetErrorString(result))} (NCCL error {result})");
    }

    public void Dispose()
    {
        if (_comm != IntPtr.Zero) ncclCommDestroy(_comm);
        _comm = IntPtr.Zero;
    }
}
