"""Toy models in which every quantity of a lesson is exact or cheap (float64; no plotting here).

    linear_gaussian     z ~ N(0, s0²), x | z ~ N(a z, s²): closed-form evidence, posterior and ELBO
                        readings (lessons 01, 02, 04), the lesson-01 explorer state, the Jensen-gap
                        Monte Carlo estimate and the doubly stochastic ELBO of a data set (lesson 02)
    gaussian_mixture    N Gaussian encoders q(z | n) in d = 1 or 2 with exact ELBO-surgery terms by
                        quadrature, the lesson-05 decoder, priors and explorer state (lesson 05)
    qew                 the implicit distribution q_EW of importance-weighted sampling on a two-lobed
                        2-D posterior (lesson 04)
    gradient_variance   reparameterization against score-function gradients on a quadratic (lesson 03)

Each module imports only the maths layers (``distributions``, ``bounds``, ``surgery``, ``priors``,
``runtime``); the figures of a lesson live in ``elbo_course.figures``.
"""
