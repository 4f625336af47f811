// h, c' of an LSTM cell (gates i, f, o, g) for n rows from xp + hw ([n, 4H]) and c ([n, H]).
void lstm_cell(int n, int H, const float *xp, const float *hw, const float *c, float *h_out, float *c_out);
