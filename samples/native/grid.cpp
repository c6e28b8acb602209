// Known answer: what `filrec summary --json` reports for this program, built with
// `g++ -g -O1` and run with `filrec run --native`:
//
// expect: peak_bytes = 48_000_000
// expect: top_function = Grid::fill(int)
// expect: top_line = 27
// expect: top_bytes = 40_000_000
// expect: second_function = Grid::Grid(int)
// expect: second_line = 20
// expect: second_bytes = 8_000_000
//
// Why: a simulation grid in C++. The constructor allocates a row index of n doubles
// with new[] (line 20: 8,000,000 bytes for n = 1,000,000); fill then allocates five
// layers of n doubles each (line 27: 40,000,000 bytes). Both are live at the peak; the
// names are the demangled ones, with their parameter types.
#include <cstdio>

class Grid {
public:
    explicit Grid(int n) : n_(n), index_(new double[n]) {}
    ~Grid()
    {
        for (int i = 0; i < 5; i++)
            delete[] layers_[i];
        delete[] index_;
    }
    __attribute__((noinline)) void fill(int layer) { layers_[layer] = new double[n_]; }
    double touch()
    {
        double s = 0;
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < n_; j += 512)
                layers_[i][j] = j;
            s += layers_[i][n_ / 2 / 512 * 512];
        }
        for (int j = 0; j < n_; j += 512)
            index_[j] = 1;
        return s + index_[0];
    }

private:
    int n_;
    double *index_;
    double *layers_[5] = {};
};

__attribute__((noinline)) static double simulate(int n)
{
    Grid *g = new Grid(n);
    for (int i = 0; i < 5; i++)
        g->fill(i);
    double s = g->touch();
    delete g;
    return s;
}

int main()
{
    std::printf("grid: %.0f\n", simulate(1000000));
    return 0;
}
